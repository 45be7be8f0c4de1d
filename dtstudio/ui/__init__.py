"""dtstudio's widgets: the main window, dialogs and (in ``detail``) the instance detail pane.

Importing this package applies :func:`dtstudio.core.refcount_guard.protect_none_refcount`, so any
widget code is safe from PySide6 6.12's ``None`` reference leak on Python 3.11.
"""

from dtstudio.core.refcount_guard import protect_none_refcount

protect_none_refcount()
