# The FUSE server the VMM runs for virtio-fs (src/kvm/fuse/server.c), driven in process
# against a temporary host tree (no KVM): tests/unit_fuse.c.
if(VZ_WITH_KVM)
	vz_add_test(unit_fuse SOURCES unit_fuse.c LABELS unit INTERNAL)
endif()
