"""The showroom server and the desks' client of it (issue 8)."""
