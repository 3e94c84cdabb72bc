"""Command and event types by subject beyond core/events.py (which joins them all in its
``Command`` and ``Event`` unions). Frozen, slotted dataclasses; nothing here is wire syntax."""
