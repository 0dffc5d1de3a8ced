"""The only package that imports pymongo: repositories, schema, the embedded server."""
