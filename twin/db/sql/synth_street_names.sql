SELECT ul_mid, name, na_mid FROM twin.streets ORDER BY ul_mid
