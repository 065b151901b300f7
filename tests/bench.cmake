# The benchmark harness (bench/): a small run of every mode this host has, checked for
# whole and consistent output (JSON, CSV, the charts) and for nothing left behind. It
# asserts nothing about speed. VM modes run unless VZ_TEST_VM_BOOTS=0 (the ASan build). A
# class whose backend this host lacks (`vz check --backend ...` says no) is skipped with
# libvz's reason, a failure where VZ_TEST_REQUIRE names its feature (container, kvm).
if(VZ_BUILD_BENCH)
	add_test(NAME bench COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/bench/smoke.sh
		$<TARGET_FILE:vz-bench> ${PROJECT_SOURCE_DIR} ${VZ_TEST_ROOTFS} $<TARGET_FILE:vz_cli>)
	set(vz_bench_env "")
	if(VZ_GUEST_KERNEL)
		set(vz_bench_env VZ_KERNEL=${VZ_GUEST_KERNEL})
	endif()
	set_tests_properties(bench PROPERTIES LABELS "bench;container" SKIP_RETURN_CODE 77
		TIMEOUT 1800 ENVIRONMENT "${vz_bench_env}")
endif()
