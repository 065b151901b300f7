vz_add_test(unit_cgroup SOURCES unit_cgroup.c LABELS unit container INTERNAL TIMEOUT 300)
