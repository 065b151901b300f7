# The virtio core and the console's control-message parser against a fake guest in
# process memory (no KVM): tests/unit_virtio.c.
if(VZ_WITH_KVM)
	vz_add_test(unit_virtio SOURCES unit_virtio.c LABELS unit INTERNAL)
endif()
