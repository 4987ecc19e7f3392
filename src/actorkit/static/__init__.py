"""Static files served by the server: the browser client (``/actorkit.js``)."""
