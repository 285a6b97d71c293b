/* keep_loaded.c: preloaded into the MPI tests of the ASan build, a dlclose that unloads nothing. Open MPI closes
 * the components (mca_*.so) it tried and did not keep, and the rest at MPI_Finalize; what they leave allocated is
 * then reported by LeakSanitizer from "<unknown module>", which no suppression can name. Kept loaded, their
 * frames keep their names and tests/mpi/lsan.supp matches them, while embstore's own leaks still fail the test. */
int dlclose(void *handle);

int dlclose(void *handle)
{
	(void)handle;
	return 0;
}
