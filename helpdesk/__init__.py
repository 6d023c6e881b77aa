"""Support helpdesk assistant: configuration and the `helpdesk` command."""
