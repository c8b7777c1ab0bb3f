"""Object Lock: retention modes, legal holds, a bucket's default retention and the one check
every path that removes or overwrites a version passes."""
