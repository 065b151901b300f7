# The Python binding (bindings/python) and the `vz` command line, tested as users meet
# them: against a copy of this build installed with `cmake --install` into
# ${PROJECT_BINARY_DIR}/test-prefix. bindings_install makes that copy (a ctest fixture
# the other two require); python_bindings runs bindings/python/tests with pytest, the
# package from the source tree and libvz from the prefix (VZ_LIBRARY); cli runs
# tests/cli against the installed bin/vz.
#
# Under ASan (VZ_SANITIZE=address...) the Python interpreter is not instrumented, so
# the sanitizer runtime is preloaded into it (LD_PRELOAD) and leak checking is off for
# that process only: CPython keeps memory until exit by design, and the C tests check
# libvz's leaks. The vz binary is instrumented itself and keeps ASan's options.

set(VZ_TEST_PREFIX ${PROJECT_BINARY_DIR}/test-prefix)
set(VZ_TEST_LIBVZ ${VZ_TEST_PREFIX}/${CMAKE_INSTALL_LIBDIR}/libvz.so.${PROJECT_VERSION_MAJOR})
set(VZ_BINDINGS_TIMEOUT 2400) # VM boots take minutes on kvm_pvm hosts

# A python3 that has pytest (Debian's python3-pytest): the first on PATH may be
# another interpreter (pyenv, a venv) without it.
set(VZ_PYTHON "" CACHE FILEPATH "python3 with pytest for the binding tests (empty: search)")
set(vz_python ${VZ_PYTHON})
if(NOT vz_python)
	find_program(VZ_PYTHON3_ON_PATH NAMES python3)
	mark_as_advanced(VZ_PYTHON3_ON_PATH)
	foreach(candidate ${VZ_PYTHON3_ON_PATH} /usr/bin/python3)
		execute_process(COMMAND ${candidate} -c "import pytest"
			RESULT_VARIABLE vz_rc OUTPUT_QUIET ERROR_QUIET)
		if(vz_rc EQUAL 0)
			set(vz_python ${candidate})
			break()
		endif()
	endforeach()
endif()

# The ASan runtime to preload into Python; empty when not needed or not found.
set(vz_asan_runtime "")
if(VZ_SANITIZE MATCHES "address")
	execute_process(COMMAND ${CMAKE_C_COMPILER} -print-file-name=libasan.so
		OUTPUT_VARIABLE vz_asan_runtime OUTPUT_STRIP_TRAILING_WHITESPACE)
	if(NOT IS_ABSOLUTE "${vz_asan_runtime}" OR NOT EXISTS "${vz_asan_runtime}")
		set(vz_asan_runtime "NOTFOUND")
	endif()
endif()

add_test(NAME bindings_install
	COMMAND ${CMAKE_COMMAND} --install ${PROJECT_BINARY_DIR} --prefix ${VZ_TEST_PREFIX})
set_tests_properties(bindings_install PROPERTIES FIXTURES_SETUP vz_installed
	LABELS "python;cli;bindings" TIMEOUT 300)

set(vz_common_env VZ_ROOTFS=${VZ_TEST_ROOTFS} PYTHONDONTWRITEBYTECODE=1)
if(VZ_GUEST_KERNEL)
	list(APPEND vz_common_env VZ_KERNEL=${VZ_GUEST_KERNEL})
endif()

# vz_pytest(NAME DIR LABEL ENV...): pytest over DIR, or a skip that says why it cannot.
function(vz_pytest name dir label)
	set(why "")
	if(NOT vz_python)
		set(why "no python3 with pytest (apt-get install python3-pytest)")
	elseif(vz_asan_runtime STREQUAL "NOTFOUND" AND label STREQUAL "python")
		set(why "ASan build, but ${CMAKE_C_COMPILER} names no libasan.so to preload into python3")
	endif()
	if(why)
		add_test(NAME ${name} COMMAND sh -c
			"case \",$VZ_TEST_REQUIRE,\" in *,python,*) echo \"not ok - required feature python unavailable: $1\"; exit 1;; esac; echo \"1..0 # SKIP $1\"; exit 77"
			sh "${why}")
	else()
		add_test(NAME ${name} COMMAND ${vz_python} -m pytest -p no:cacheprovider -ra -v ${dir})
		set_tests_properties(${name} PROPERTIES ENVIRONMENT "${vz_common_env};${ARGN}")
	endif()
	set_tests_properties(${name} PROPERTIES FIXTURES_REQUIRED vz_installed
		LABELS "${label};bindings" SKIP_RETURN_CODE 77 TIMEOUT ${VZ_BINDINGS_TIMEOUT})
endfunction()

set(vz_python_env VZ_LIBRARY=${VZ_TEST_LIBVZ} PYTHONPATH=${PROJECT_SOURCE_DIR}/bindings/python)
if(vz_asan_runtime AND NOT vz_asan_runtime STREQUAL "NOTFOUND")
	list(APPEND vz_python_env LD_PRELOAD=${vz_asan_runtime}
		ASAN_OPTIONS=detect_leaks=0:abort_on_error=0
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1)
endif()
vz_pytest(python_bindings ${PROJECT_SOURCE_DIR}/bindings/python/tests python ${vz_python_env})
vz_pytest(cli ${PROJECT_SOURCE_DIR}/tests/cli cli VZ_CLI=${VZ_TEST_PREFIX}/${CMAKE_INSTALL_BINDIR}/vz)
