"""The app's routes, one router per concern: analysing, the history, corpus numbers, and the pages."""
