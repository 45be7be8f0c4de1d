"""dtstudio's widgets: the main window, dialogs and (in ``detail``) the instance detail pane."""
