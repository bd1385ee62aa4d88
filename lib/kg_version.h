/* kg_version - the version string, set by the Makefile from git. */
#ifndef KG_VERSION_H
#define KG_VERSION_H

#ifndef KG_VERSION
#define KG_VERSION "0.1.0"
#endif

#endif
