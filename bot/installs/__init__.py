"""OAuth installs: any workspace (or Grid org) installs the app; its token comes from our database."""
