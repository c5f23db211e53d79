"""Errors that are the user's to fix (a params file, a missing or unusable input): the command line prints their
one Japanese line and exits with status 2, without a traceback (``-v`` shows it)."""

from __future__ import annotations


class UserError(Exception):
    """Something the user can fix: the message names the file (and row, column or key) and what to do."""


class InputError(UserError):
    """An input file the run cannot use (a required export missing, empty or unreadable; a decisions file that
    lacks a column)."""


# class names of user errors as papermill reports them from inside a notebook kernel
USER_ERROR_NAMES = {"UserError", "InputError", "ParamsError", "RequiredSourceError", "KeyFileError", "RegistryError"}
