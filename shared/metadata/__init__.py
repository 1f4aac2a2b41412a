"""Metadata stores behind one interface: ``MetadataStore`` (base); SQLite and Firestore."""
