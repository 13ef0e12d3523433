"""The only glfw importer: the window, the frame loop, the grid and fit views.

May import live and everything below it; never cli."""
