"""The show without a window: Live (actions in, frames out), recording and video hooks, the HUD.

May import instrument, media, rendering, nn, exports, show and core; never window or cli."""
