"""The family's rights over what is held about a child (個人情報保護法 第76・90・98条)."""
