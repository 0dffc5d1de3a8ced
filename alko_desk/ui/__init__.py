"""The Qt GUI. Talks to the services through an AppContext; never imports pymongo or storage."""
