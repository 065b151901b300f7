# The virtio core and the console's control-message parser against a fake guest in
# process memory (no KVM): tests/unit_virtio.c.
if(VZ_WITH_KVM)
	vz_add_test(unit_virtio SOURCES unit_virtio.c LABELS unit INTERNAL)
endif()

# Which modules a modular guest kernel needs, from modules.dep/modules.builtin texts.
if(VZ_WITH_KVM)
	vz_add_test(unit_kmods SOURCES unit_kmods.c LABELS unit INTERNAL)
endif()
