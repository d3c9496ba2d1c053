// A throw-away PostgreSQL server for tests outside C++ (the browser test
// against `likeness serve --db`): starts one (pg_fixture.hpp), prints the
// URL of a fresh database on its first line, and stops it and removes
// everything when its standard input closes (its parent done or gone).
#include <unistd.h>

#include <iostream>

#include "pg_fixture.hpp"

int main() {
  try {
    likeness::testing::PgServer pg;
    std::cout << pg.create_database("studio") << std::endl;
    char c;
    while (::read(0, &c, 1) > 0) {
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "pg_cluster: " << e.what() << "\n";
    return 1;
  }
}
