"""Versioned schema migrations, one SQL file per version: `NNNN_<name>.<dialect>.sql`."""
