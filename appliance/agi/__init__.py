"""FastAGI: the server and the scripts it runs, one module per script."""
