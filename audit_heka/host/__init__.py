"""What the daemon reads of its own host: user and group names, /proc for
enrichment, and the privileges and private files it runs with."""
