"""Teens and wellbeing: age assurance, guardians and parental controls, the age-rated feed,
viewing limits, the interaction guard and crisis support, as checks the platform calls."""
