"""The Clients section: the list with search, the registration and edit form, the detail panel."""
