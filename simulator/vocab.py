"""Static vocabularies of the simulated world: names, places, devices, the form.

Small on purpose: enough variety that identifiers rarely collide by chance,
while fraud rings and repeat applicants make them collide on purpose.
"""

from __future__ import annotations

FIRST_NAMES = (
    "Oliver George Harry Jack Jacob Noah Charlie Muhammad Thomas Oscar William James Henry Leo "
    "Alfie Joshua Freddie Archie Ethan Isaac Alexander Joseph Edward Samuel Max Daniel Arthur "
    "Lucas Mohammed Logan Theo Harrison Benjamin Mason Sebastian Finley Adam Dylan Zachary Riley "
    "Olivia Amelia Isla Ava Emily Isabella Mia Poppy Ella Lily Sophia Grace Evie Sophie Ruby "
    "Chloe Jessica Freya Daisy Charlotte Alice Phoebe Matilda Florence Evelyn Ivy Sienna Emma "
    "Anna Hannah Sarah Laura Rachel Priya Aisha Fatima Zara Maria Elena Katarzyna Agnieszka "
    "Piotr Tomasz Andrei Ioana Chidi Ngozi Wei Mei Raj Arjun Sanjay Deepa Kofi Ama Sean Niamh"
).split()

LAST_NAMES = (
    "Smith Jones Williams Taylor Brown Davies Evans Wilson Thomas Johnson Roberts Robinson "
    "Thompson Wright Walker White Edwards Hughes Green Hall Lewis Harris Clarke Patel Jackson "
    "Wood Turner Martin Cooper Hill Ward Morris Moore Clark Lee King Baker Harrison Morgan Allen "
    "James Scott Phillips Watson Davis Parker Price Bennett Young Griffiths Mitchell Kelly Cook "
    "Carter Richardson Bailey Collins Bell Shaw Murphy Miller Cox Richards Khan Marshall Anderson "
    "Simpson Ellis Adams Singh Begum Wilkinson Foster Chapman Powell Webb Rogers Gray Mason Ali "
    "Hussain Campbell Matthews Owen Palmer Holmes Mills Barnes Knight Lloyd Butler Russell Barker "
    "Fisher Stevens Jenkins Murray Dixon Harvey Nowak Kowalski Popescu Okafor Chen Wang Sharma"
).split()

STREETS = (
    "High Church Station Victoria Park Green Manor Mill Queens Kings Grange Albert London "
    "Chapel School Main Windsor York New Springfield Highfield Richmond Mount Broadway"
).split()
STREET_SUFFIXES = ("Street", "Road", "Lane", "Avenue", "Close", "Way", "Drive", "Gardens")

# city, postcode area, lat, lon (home country GB)
GB_CITIES = (
    ("London", "E", 51.507, -0.128), ("London", "SW", 51.46, -0.17), ("London", "N", 51.56, -0.11),
    ("Birmingham", "B", 52.486, -1.890), ("Manchester", "M", 53.480, -2.242),
    ("Leeds", "LS", 53.801, -1.549), ("Glasgow", "G", 55.864, -4.252),
    ("Liverpool", "L", 53.408, -2.992), ("Bristol", "BS", 51.455, -2.588),
    ("Sheffield", "S", 53.381, -1.470), ("Edinburgh", "EH", 55.953, -3.189),
    ("Cardiff", "CF", 51.481, -3.179), ("Leicester", "LE", 52.637, -1.135),
    ("Nottingham", "NG", 52.954, -1.158), ("Newcastle", "NE", 54.978, -1.618),
    ("Belfast", "BT", 54.597, -5.930), ("Brighton", "BN", 50.822, -0.137),
    ("Southampton", "SO", 50.909, -1.404), ("Norwich", "NR", 52.630, 1.297),
    ("Plymouth", "PL", 50.375, -4.143), ("Reading", "RG", 51.454, -0.978),
)
CITY_WEIGHTS = (8, 4, 4, 5, 5, 4, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1)

# country, IANA timezone, standard UTC offset (minutes), lat, lon, phone prefix, ip first octets
COUNTRIES = (
    ("GB", "Europe/London", 0, 53.0, -1.5, "+447", (81, 86, 90, 92, 94, 109)),
    ("IE", "Europe/Dublin", 0, 53.35, -6.26, "+3538", (78, 89)),
    ("FR", "Europe/Paris", 60, 48.86, 2.35, "+336", (82, 90)),
    ("DE", "Europe/Berlin", 60, 52.52, 13.40, "+4915", (79, 91)),
    ("ES", "Europe/Madrid", 60, 40.42, -3.70, "+346", (83, 88)),
    ("PL", "Europe/Warsaw", 60, 52.23, 21.01, "+485", (31, 83)),
    ("IN", "Asia/Kolkata", 330, 19.08, 72.88, "+919", (49, 117)),
    ("US", "America/New_York", -300, 40.71, -74.01, "+1212", (24, 73)),
    ("NG", "Africa/Lagos", 60, 6.52, 3.38, "+23480", (102, 105)),
    ("RO", "Europe/Bucharest", 120, 44.43, 26.10, "+407", (86, 89)),
    ("RU", "Europe/Moscow", 180, 55.76, 37.62, "+79", (95, 178)),
    ("BR", "America/Sao_Paulo", -180, -23.55, -46.63, "+5511", (177, 189)),
    ("VN", "Asia/Ho_Chi_Minh", 420, 10.82, 106.63, "+849", (14, 113)),
)
# genuine applicants living abroad (after the home country), and where fraudsters sit
FOREIGN_HOME = ("IE", "FR", "DE", "ES", "PL", "IN", "US")
FOREIGN_HOME_WEIGHTS = (3, 2, 2, 2, 3, 2, 1)
FRAUD_ORIGIN = ("NG", "RO", "RU", "BR", "VN", "IN", "US", "PL")
FRAUD_ORIGIN_WEIGHTS = (3, 3, 2, 2, 2, 2, 1, 1)

EMAIL_DOMAINS = ("gmail.com", "outlook.com", "yahoo.co.uk", "hotmail.co.uk", "icloud.com", "btinternet.com")
THROWAWAY_DOMAINS = ("mail.tm", "proton.me", "tutanota.com", "gmx.com", "yandex.com")

# os, user agent; per channel family
WEB_AGENTS = (
    ("Windows 11", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"),
    ("macOS 14", "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Version/17.5 Safari/605.1.15"),
    ("Windows 10", "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0"),
    ("iOS 17", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"),
    ("Android 14", "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/126.0 Mobile Safari/537.36"),
)
APP_AGENTS = (
    ("iOS 17", "LenderApp/5.2.1 (iPhone15,2; iOS 17.5)"),
    ("iOS 16", "LenderApp/5.2.1 (iPhone13,2; iOS 16.7)"),
    ("Android 14", "LenderApp/5.2.1 (Linux; Android 14; SM-S918B)"),
    ("Android 13", "LenderApp/5.2.1 (Linux; Android 13; Redmi Note 12)"),
)
BOT_AGENTS = (
    ("Linux x86_64", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/126.0 Safari/537.36"),
    ("Android 11", "LenderApp/5.2.1 (Linux; Android 11; sdk_gphone_x86_64)"),
)

# the application form: pages, then (field, page index, typical characters typed)
PAGES = ("personal", "contact", "address", "employment", "review")
FIELDS = (
    ("first_name", 0, 6), ("last_name", 0, 7), ("date_of_birth", 0, 10), ("national_id", 0, 9),
    ("email", 1, 22), ("phone", 1, 13), ("address_line1", 2, 18), ("postcode", 2, 7),
    ("annual_income", 3, 5), ("employment_months", 3, 2),
)
