"""Files and streams: recording codecs and writers, performance logs, scene files, images, video out.

May import show and core (and nn, only to rebuild a scene's network from its config)."""
