/* libfcgi's FCGX_* API only: fcgi_stdio.h would redefine stdin, stdout and printf. */
#include <fcgiapp.h>
