"""The ``korund`` command and the service launchers: the one package that
knows both the call-center core (``appliance``) and the panel (``web``)."""
