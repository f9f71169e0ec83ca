/* placeholder until the TOML reader lands */
int main(void) { return 1; }
