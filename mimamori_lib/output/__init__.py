"""What people open: formula-safe CSV and workbook cells (:mod:`.spreadsheet`), workbooks staff fill in or print
(:mod:`.workbook`), reports that work offline (:mod:`.offline`) and plots (:mod:`.plots`). A base package: it writes
nothing by itself (the catalogue decides where and how privately)."""
