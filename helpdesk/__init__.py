"""The `helpdesk` command (`helpdesk.cli`) and the supervisor that starts the servers."""
