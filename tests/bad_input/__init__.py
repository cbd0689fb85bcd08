"""Bad-input suite: every case asserts the typed error and that nothing existing changed."""
