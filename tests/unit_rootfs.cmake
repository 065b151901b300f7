vz_add_test(unit_rootfs SOURCES unit_rootfs.c LABELS unit INTERNAL)
# The installed default the library was built with, to check the message names it.
target_compile_definitions(unit_rootfs PRIVATE
	VZ_DEFAULT_ROOTFS="${CMAKE_INSTALL_FULL_DATADIR}/libvz/rootfs")
