"""Vocabulary for the synthetic BIO dataset: course titles and the things that are *not* courses.

Course titles are grouped by area; each area has the department codes its catalog lines use.
Negatives (books titled like courses, majors, departments, job titles, people, institutions)
are what a course extractor gets wrong on real text, so they get as much care as the courses.
"""

# area -> (department codes, course titles)
COURSES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "computing": (
        ("CS", "CSE", "COMP", "CSCI", "INFO"),
        (
            "Introduction to Computer Science",
            "Introduction to Artificial Intelligence",
            "Data Structures and Algorithms",
            "Operating Systems",
            "Machine Learning",
            "Computer Networks",
            "Database Systems",
            "Theory of Computation",
            "Compilers",
            "Computer Architecture",
            "Software Engineering",
            "Human-Computer Interaction",
            "Distributed Systems",
            "Computer Graphics",
            "Natural Language Processing",
            "Computer Vision",
            "Introduction to Programming",
            "Web Development",
            "Cybersecurity Fundamentals",
            "Discrete Structures",
            "Programming Languages",
            "Deep Learning",
            "Algorithms II",
            "Mobile App Development",
            "Cloud Computing",
        ),
    ),
    "mathematics": (
        ("MATH", "MTH", "STAT", "AMATH"),
        (
            "Linear Algebra",
            "Calculus I",
            "Calculus II",
            "Multivariable Calculus",
            "Differential Equations",
            "Real Analysis",
            "Abstract Algebra",
            "Probability and Statistics",
            "Discrete Mathematics",
            "Number Theory",
            "Topology",
            "Complex Analysis",
            "Numerical Methods",
            "Introduction to Proofs",
            "Mathematical Logic",
            "Applied Regression Analysis",
            "Bayesian Statistics",
            "Stochastic Processes",
            "Combinatorics",
            "Precalculus",
            "Statistics for Social Sciences",
            "Game Theory",
        ),
    ),
    "natural sciences": (
        ("BIO", "CHEM", "PHYS", "GEOL", "ASTR", "ENVS"),
        (
            "Organic Chemistry",
            "Organic Chemistry II",
            "General Chemistry I",
            "Physical Chemistry",
            "Biochemistry",
            "Analytical Chemistry",
            "Inorganic Chemistry",
            "Introduction to Biology",
            "Cell Biology",
            "Molecular Biology",
            "Genetics",
            "Ecology and Evolution",
            "Microbiology",
            "Human Anatomy and Physiology",
            "Neuroscience",
            "Classical Mechanics",
            "Electricity and Magnetism",
            "Quantum Mechanics",
            "Thermodynamics",
            "Astronomy 101",
            "Introduction to Astrophysics",
            "Physical Geology",
            "Oceanography",
            "Environmental Science",
            "Climate Change and Society",
            "Marine Biology",
            "Botany",
        ),
    ),
    "social sciences": (
        ("ECON", "PSYC", "SOC", "POLS", "ANTH", "GEOG"),
        (
            "Principles of Microeconomics",
            "Principles of Macroeconomics",
            "Intermediate Microeconomics",
            "Econometrics",
            "Introduction to Psychology",
            "Developmental Psychology",
            "Abnormal Psychology",
            "Social Psychology",
            "Cognitive Psychology",
            "Introduction to Sociology",
            "Race and Ethnicity in America",
            "American Government",
            "International Relations",
            "Comparative Politics",
            "Political Theory",
            "Cultural Anthropology",
            "Human Geography",
            "Behavioral Economics",
            "Urban Studies",
            "Public Opinion and Voting Behavior",
        ),
    ),
    "humanities": (
        ("HIST", "PHIL", "ENGL", "CLAS", "RELS", "LING"),
        (
            "World History to 1500",
            "Modern European History",
            "History of the American Civil War",
            "History of the Roman Empire",
            "Introduction to Philosophy",
            "Ethics",
            "Philosophy of Mind",
            "Symbolic Logic",
            "Existentialism",
            "Shakespeare",
            "British Literature II",
            "American Literature since 1865",
            "Creative Writing",
            "Expository Writing",
            "Introduction to Linguistics",
            "Syntax and Semantics",
            "Greek Mythology",
            "World Religions",
            "Medieval Studies",
            "Spanish III",
            "Intermediate French",
            "Elementary Japanese I",
            "Latin Poetry",
            "Women and Gender in History",
            "Literature of the Harlem Renaissance",
        ),
    ),
    "arts": (
        ("ART", "ARTH", "MUS", "THEA", "FILM", "DANC"),
        (
            "Drawing I",
            "Introduction to Painting",
            "Art History: Renaissance to Modern",
            "Music Theory I",
            "History of Jazz",
            "Acting for the Camera",
            "Film Studies",
            "Digital Photography",
            "Ceramics",
            "Sculpture and Installation",
            "Graphic Design",
            "Modern Dance",
            "Orchestra",
            "Screenwriting",
            "Stagecraft and Lighting Design",
            "Introduction to Architecture",
            "Typography",
        ),
    ),
    "business": (
        ("BUS", "ACCT", "FIN", "MKTG", "MGMT", "ECON"),
        (
            "Financial Accounting",
            "Managerial Accounting",
            "Corporate Finance",
            "Investments",
            "Principles of Marketing",
            "Consumer Behavior",
            "Organizational Behavior",
            "Operations Management",
            "Business Statistics",
            "Business Law",
            "Entrepreneurship",
            "Supply Chain Management",
            "Mergers & Acquisitions",
            "Marketing & Society",
            "Negotiation",
            "Strategic Management",
            "Business Communication",
            "Real Estate Finance",
            "Leadership and Ethics",
            "Introduction to Business",
        ),
    ),
    "professional": (
        ("LAW", "MED", "NURS", "EDUC", "ENGR", "PH", "ME", "EE", "CE", "ARCH", "SOCW"),
        (
            "Constitutional Law",
            "Contracts",
            "Torts",
            "Civil Procedure",
            "Criminal Law",
            "Evidence",
            "Pharmacology",
            "Pathophysiology",
            "Medical Ethics",
            "Health Assessment",
            "Fundamentals of Nursing",
            "Epidemiology",
            "Biostatistics",
            "Introduction to Public Health",
            "Educational Psychology",
            "Teaching Reading to Young Children",
            "Statics",
            "Dynamics",
            "Fluid Mechanics",
            "Circuits I",
            "Signals and Systems",
            "Strength of Materials",
            "Engineering Design",
            "Heat Transfer",
            "Introduction to Social Work",
            "Structural Analysis",
            "Design Studio III",
        ),
    ),
}

# Subjects and patterns that compose further titles ("Topics in Urban Planning", "Law and
# Society"), so the model learns what a title looks like rather than memorising a list.
SUBJECTS: tuple[str, ...] = (
    "Economics", "Psychology", "Sociology", "Philosophy", "Statistics", "Chemistry", "Physics",
    "Biology", "Mathematics", "Computer Science", "History", "Literature", "Music", "Art",
    "Film", "Architecture", "Law", "Medicine", "Nursing", "Education", "Engineering",
    "Public Policy", "Religion", "Media", "Politics", "Gender", "Race", "Society", "Culture",
    "Technology", "Science", "the Environment", "Health", "Globalization", "Democracy",
    "Migration", "Poetry", "Drama", "Photography", "Design", "Marketing", "Finance",
    "Management", "Data Analysis", "Programming", "Robotics", "Genomics", "Ecology",
    "Linguistics", "Anthropology", "Geography", "Cryptography", "Optimization", "Probability",
    "Logic", "Rhetoric", "Journalism", "Diplomacy", "Urban Planning", "Nutrition",
    "Sustainability", "Energy Systems", "Materials Science", "Signal Processing", "Networks",
    "Information Security", "Game Design", "Animation", "Theater", "Painting", "Human Rights",
    "Economic Development", "Labor", "Memory", "Identity", "Empire", "Revolution",
    "Colonialism", "the City", "the Body", "the Cold War", "Modern China", "Latin America",
    "the Middle East", "Africa", "Japan", "Europe", "Public Speaking", "Social Justice",
)
TITLE_PATTERNS: tuple[str, ...] = (
    "Introduction to {s}", "Intro to {s}", "{s} and {s2}", "History of {s}", "Philosophy of {s}",
    "Topics in {s}", "Advanced {s}", "{s} I", "{s} II", "Foundations of {s}", "Principles of {s}",
    "Seminar in {s}", "Research Methods in {s}", "{s} for Engineers", "{s} for Non-Majors",
    "Applied {s}", "Computational {s}", "Modern {s}", "Contemporary {s}", "Global {s}",
    "Experimental {s}", "{s} Lab", "{s} Theory", "Survey of {s}", "Special Topics: {s}",
    "Honors {s}", "{s} in Practice", "{s} & {s2}", "Women in {s}", "Writing about {s}",
    "Politics of {s}", "Economics of {s}", "Quantitative {s}", "{s}: Theory and Practice",
)

# What a course covers, as people mention it: not a course.
TOPICS: tuple[str, ...] = (
    "eigenvalues", "recursion", "supply and demand", "photosynthesis", "the French Revolution",
    "mitosis", "Bayes' theorem", "the Krebs cycle", "pointers", "integration by parts",
    "negligence", "price elasticity", "Newton's laws", "stoichiometry", "natural selection",
    "the Treaty of Versailles", "sonnets", "Kant's ethics", "hypothesis testing", "linked lists",
    "opportunity cost", "cognitive dissonance", "entropy", "sorting algorithms", "the New Deal",
    "cell membranes", "regression", "Big O notation", "the bond market", "iambic pentameter",
    "programming", "coding", "SQL", "Python", "Excel", "calculus problems", "essay writing",
)

# Informal names students use. Each maps to nothing: the nickname itself is the course span.
NICKNAMES: tuple[str, ...] = (
    "Orgo", "orgo", "Orgo II", "O-Chem", "ochem", "P-Chem", "pchem", "Gen Chem", "gen chem",
    "Calc II", "Calc 2", "calc 1", "Calc BC", "Multivar", "multivar", "Diff Eq", "diffeq",
    "Lin Alg", "linalg", "Intro Econ", "Intro Psych", "intro psych", "Intro Stats", "stats 101",
    "Micro", "Macro", "Intermediate Micro", "Bio 1", "bio 2", "A&P", "Anatomy", "Physics 1",
    "E&M", "Quantum", "Thermo", "DS&A", "Algos", "OS", "Databases", "Compilers", "AI",
    "Intro to CS", "Intro Soc", "Poli Sci 101", "Philo 101", "Ethics", "Bio Chem", "Biochem",
    "Econ 101", "Econ 1", "Accounting 1", "Fin Acct", "Corp Fin", "Con Law", "Crim Law",
    "Civ Pro", "Torts", "Pharm", "Patho", "Statics", "Dynamics", "Fluids", "Circuits",
    "Sig Sys", "Chem 1", "Music Theory", "Art History", "Film 101", "Creative Writing",
    "Spanish 2", "French 101", "Japanese 1", "Bio Stats", "Epi", "Intro Micro", "Intro Macro",
)

# Codes used as the course's name ("I'm taking CS50"). Random codes are generated too.
CODE_NAMES: tuple[str, ...] = (
    "CS50", "CS 50", "6.006", "6.034", "18.06", "CS229", "CS 231n", "15-213", "CS61A", "CS 61B",
    "EECS 281", "MATH 55", "Stat 110", "ECON 10", "PSY 1", "CHEM 14C", "Physics 7A", "CIS 120",
    "COS 126", "ENGL 101", "BIO 201", "MATH 1A", "CSE 142", "ECE 2020", "ORF 245",
)

# Textbooks and book series whose titles read like course names: hard negatives.
BOOKS: tuple[str, ...] = (
    "Introduction to Algorithms",
    "Calculus: Early Transcendentals",
    "Campbell Biology",
    "Principles of Economics",
    "Linear Algebra Done Right",
    "Organic Chemistry as a Second Language",
    "The Feynman Lectures on Physics",
    "Statistics for Dummies",
    "Microeconomics for Dummies",
    "Operating System Concepts",
    "Artificial Intelligence: A Modern Approach",
    "Molecular Biology of the Cell",
    "A People's History of the United States",
    "Gödel, Escher, Bach",
    "The Elements of Statistical Learning",
    "Thinking, Fast and Slow",
    "Psychology: Themes and Variations",
    "Very Short Introductions",
    "Cracking the Coding Interview",
    "Introduction to Electrodynamics",
    "Sapiens",
    "The Wealth of Nations",
    "Pattern Recognition and Machine Learning",
    "Computer Networking: A Top-Down Approach",
    "How to Prove It",
)

AUTHORS: tuple[str, ...] = (
    "Cormen", "Stewart", "Axler", "Griffiths", "Mankiw", "Kahneman", "Russell and Norvig",
    "Howard Zinn", "Hofstadter", "Adam Smith", "Bishop", "Velleman", "Harari", "Klein",
)

# Fields of study as majors, degrees and departments: hard negatives.
MAJORS: tuple[str, ...] = (
    "Computer Science", "Economics", "Mechanical Engineering", "Biology", "Psychology",
    "Political Science", "English", "History", "Mathematics", "Chemistry", "Nursing",
    "Finance", "Marketing", "Philosophy", "Physics", "Public Health", "Data Science",
    "Electrical Engineering", "Sociology", "Art History", "Film Studies", "Accounting",
    "Linguistics", "Neuroscience", "Business Administration", "Civil Engineering", "Music",
)

DEGREES: tuple[str, ...] = (
    "BS", "BA", "B.S.", "MS", "MA", "PhD", "MBA", "master's degree", "bachelor's degree",
    "minor", "Ph.D.", "associate degree", "graduate certificate",
)

JOB_TITLES: tuple[str, ...] = (
    "Data Scientist", "Software Engineer", "Marketing Manager", "Financial Analyst",
    "Professor of Economics", "Assistant Professor of Chemistry", "Research Assistant",
    "Teaching Assistant", "Machine Learning Engineer", "Registered Nurse",
    "Director of Operations", "Accountant", "High School Math Teacher", "Product Manager",
    "Lecturer in Philosophy", "Lab Technician", "Investment Banking Analyst",
    "Chair of the Biology Department", "Dean of Students", "Head of Design",
)

PROFESSORS: tuple[str, ...] = (
    "Prof. Smith", "Professor Nguyen", "Dr. Patel", "Prof Garcia", "Dr. Okafor",
    "Professor Lindqvist", "Dr. Chen", "Prof. O'Brien", "Professor Rossi", "Dr. Kowalski",
    "Prof. Haddad", "Dr. Yamamoto", "Professor Adeyemi", "Prof. Dubois", "Dr. Fischer",
    "Malan", "Strang", "Professor Levine", "Dr. Alvarez", "Prof. Kim",
)

UNIVERSITIES: tuple[str, ...] = (
    "MIT", "Stanford", "UC Berkeley", "the University of Michigan", "Harvard",
    "Georgia Tech", "NYU", "the University of Toronto", "Ohio State", "UCLA", "Oxford",
    "ETH Zurich", "Purdue", "Arizona State University", "community college", "UT Austin",
    "the University of Washington", "McGill", "Carnegie Mellon", "Boston University",
)

COMPANIES: tuple[str, ...] = (
    "Google", "Microsoft", "Deloitte", "Goldman Sachs", "Pfizer", "Amazon", "Meta",
    "McKinsey", "Tesla", "Netflix", "Kaiser Permanente", "Boeing", "JPMorgan", "Spotify",
    "Accenture", "IBM", "Nvidia", "Starbucks",
)

STUDENTS: tuple[str, ...] = (
    "Maria", "James", "Aisha", "Wei", "Liam", "Sofia", "Noah", "Priya", "Mateo", "Chloe",
    "Kenji", "Fatima", "my roommate", "my sister", "my lab partner", "Jordan", "Emma",
)

TERMS: tuple[str, ...] = (
    "fall", "spring", "summer", "winter", "Fall 2025", "Spring 2026", "this semester",
    "next semester", "this quarter", "last year", "freshman year", "junior year",
)

DAYS: tuple[str, ...] = (
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "MWF", "TTh", "Tues/Thurs",
)

TIMES: tuple[str, ...] = (
    "9:00-9:50am", "10:30 AM - 11:45 AM", "1-2:15pm", "2:00 PM", "6:30-9:20 pm", "8am", "noon",
)

ROOMS: tuple[str, ...] = (
    "Room 204", "Hall B", "Science Center 101", "Lecture Hall 3", "Zoom", "Bldg 32-123",
)

CITIES: tuple[str, ...] = ("Boston", "Chicago", "Seattle", "Austin", "Toronto", "London")

# Open-vocabulary titles for the training side only: a modifier and a field, a field with a
# level, two fields joined. With a few hundred titles the model memorises them and misses an
# unseen one ("Orchestra", "Labor Lab"); thousands of combinations teach what a title *looks*
# like instead. Held-out names are never generated, nor are the subjects that compose held-out
# titles ("Music", "Labor") used (dataset.split_vocabulary).
FIELD_MODIFIERS: tuple[str, ...] = (
    "Applied", "Advanced", "Computational", "Quantitative", "Molecular", "Cellular", "Comparative",
    "Environmental", "Medieval", "Modern", "Digital", "Statistical", "Nonlinear", "Urban",
    "Global", "Cognitive", "Experimental", "Theoretical", "Industrial", "Clinical", "Visual",
    "Political", "Public", "Social", "Cultural", "Discrete", "Biomedical", "Structural",
    "Chemical", "Electrical", "Mechanical", "Early", "American", "European", "East Asian",
    "African", "Ancient", "Classical", "Intermediate", "Elementary", "Introductory", "Marine",
    "Planetary", "Evolutionary", "Legal", "Sustainable", "Interactive", "Literary", "Islamic",
    "Romantic", "Victorian", "Spatial", "Tropical", "Urban", "Rural", "Sensory", "Coastal",
)
FIELD_HEADS: tuple[str, ...] = (
    "Systems", "Methods", "Analysis", "Design", "Mechanics", "Modeling", "Policy", "Writing",
    "Studies", "Chemistry", "Physics", "Economics", "Literature", "History", "Art",
    "Philosophy", "Geometry", "Imaging", "Genetics", "Optics", "Materials", "Painting",
    "Sculpture", "Fiction", "Cinema", "Computing", "Security", "Accounting", "Marketing",
    "Leadership", "Archaeology", "Thought", "Governance", "Nutrition", "Planning",
    "Inference", "Learning", "Control", "Astronomy", "Geology", "Meteorology", "Choir",
    "Percussion", "Printmaking", "Woodworking", "Welding", "Cartography", "Forestry", "Agronomy",
    "Hydrology", "Virology", "Immunology", "Toxicology", "Acoustics", "Robotics", "Bioethics",
    "Folklore", "Calligraphy", "Puppetry", "Glassblowing", "Horticulture", "Kinesiology",
)
TITLE_LEVELS: tuple[str, ...] = (
    " I", " II", " III", " IV", " 101", " 201", " 1", " 2", " Lab", " Laboratory", " Seminar",
    " Workshop", " Studio", " Practicum", ": An Introduction", ": Methods and Practice",
    # subtitles, as catalogs print them
    ": Antiquity to 1500", ": 1945 to the Present", ": Colonial Era to 1877", ": Classical to Romantic",
    ": A Global Survey", ": Theory and Methods", ": Case Studies", ": Ethics and Policy",
)
