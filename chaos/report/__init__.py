"""Reports: the files a run leaves (journal, summary, JUnit), the live view, the console table."""
