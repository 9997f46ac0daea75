/* MariaDB Connector/C (Debian's libmariadb-dev): the classic mysql_* client API. */
#include <mysql.h>
