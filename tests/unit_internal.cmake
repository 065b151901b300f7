vz_add_test(unit_internal SOURCES unit_internal.c LABELS unit INTERNAL)
