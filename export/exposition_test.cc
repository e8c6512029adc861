#include "export/exposition.h"
