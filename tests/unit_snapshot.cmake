# VM templates' state file (src/kvm/snapshot.c, vz_tmpl_check and vz_tmpl_publish in
# src/kvm/template.c), built in memory and in a temporary directory: tests/unit_snapshot.c.
if(VZ_WITH_KVM)
	vz_add_test(unit_snapshot SOURCES unit_snapshot.c LABELS unit INTERNAL)
endif()
