"""HTML reports over a results database (``testbed report DB --out DIR``)."""
