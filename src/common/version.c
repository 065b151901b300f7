/* SPDX-License-Identifier: MIT */
#include <vz/version.h>

int vz_version(void)
{
	return VZ_VERSION_NUMBER;
}

const char *vz_version_string(void)
{
	return VZ_VERSION_STRING;
}
