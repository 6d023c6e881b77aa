"""What the `helpdesk` command exits with."""

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
