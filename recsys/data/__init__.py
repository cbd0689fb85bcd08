"""Tables, schemas, validation and the :class:`Dataset` every model reads."""
