"""The application: command line, QApplication on a qasync loop, main window."""
