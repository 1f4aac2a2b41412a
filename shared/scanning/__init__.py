"""Virus scanning behind one interface: ``Scanner``; ``ClamdScanner`` and ``DisabledScanner``."""
