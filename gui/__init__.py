"""The desktop window: PySide6 widgets and the one engine thread. No maths lives here."""
