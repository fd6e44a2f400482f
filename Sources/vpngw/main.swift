print("vpngw")
